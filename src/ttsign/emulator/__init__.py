"""ttsign.emulator: a local stand-in for www.tiktok.com and webcast.tiktok.com (HTTP routes and the push socket).

`ttsign emulate --era 2026-09` (the default) models TikTok since 2026-09-09 (im/fetch closed to non-browsers,
the socket open to a guest ttwid); `--era 2026-08` the rules before. Every rule, with the public report it
models, is listed in docs/emulator.md; the rules themselves are in `era.py`.
"""
