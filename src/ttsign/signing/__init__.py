"""ttsign.signing: TikTok web signatures, pure (sans-IO).

Clock, randomness and browser profile are always passed in; nothing here does I/O, so the server signs
and the emulator verifies with the same code.
"""

from ttsign.signing.mstoken import generate_ms_token, is_valid_ms_token
from ttsign.signing.profile import (
    DEFAULT_PROFILES,
    BrowserProfile,
    ProfileError,
    default_profile,
    profile_from_user_agent,
)
from ttsign.signing.sdk_session import SdkSession
from ttsign.signing.signer import SignedRequest, sign_request
from ttsign.signing.verify import Check, Verification, VerifyPolicy, verify_request

__all__ = [
    "DEFAULT_PROFILES",
    "BrowserProfile",
    "Check",
    "ProfileError",
    "SdkSession",
    "SignedRequest",
    "Verification",
    "VerifyPolicy",
    "default_profile",
    "generate_ms_token",
    "is_valid_ms_token",
    "profile_from_user_agent",
    "sign_request",
    "verify_request",
]
