"""Issue 12 item 16: the README stands alone. Every path it names is in the repository, nothing points
outside it, and it tells client users about SIGN_API_URL/SIGN_API_KEY; docs/clients.md covers each version."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CLIENTS = (ROOT / "docs" / "clients.md").read_text()


def test_no_pointer_outside_the_repository() -> None:
    assert "shared/" not in README and "beside the repository" not in README
    assert "../" not in README and "/work/" not in README


def test_every_linked_file_exists() -> None:
    links = re.findall(r"\]\(([^)#\s]+)\)", README)
    assert "docs/clients.md" in links
    for link in links:
        if not link.startswith(("http://", "https://")):
            assert (ROOT / link).exists(), link


def test_every_repository_path_in_backticks_exists() -> None:
    named = set(re.findall(r"`((?:src|tests|docs|deploy|scripts|benchmarks)/[^`\s*]+)`", README))
    missing = sorted(path for path in named if not (ROOT / path.rstrip("/")).exists())
    assert not missing, missing


def test_the_clients_environment_variables_are_explained() -> None:
    assert "SIGN_API_URL" in README and "SIGN_API_KEY" in README
    for version in ("TikTokLive 6.6.6 and 7.x", "6.5.0 to 6.6.5", "4.x and 5.x", "tiktok-live-connector 2.x",
                    "tiktok-live-connector 1.x"):  # fmt: skip
        assert version in CLIENTS, version
    assert "SIGN_API_URL" in CLIENTS and "SIGN_API_KEY" in CLIENTS
