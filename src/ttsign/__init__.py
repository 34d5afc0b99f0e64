"""ttsign: a self-hosted sign server for TikTok LIVE clients."""

__version__ = "0.1.0"
