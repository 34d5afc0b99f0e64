"""ttsign.api"""
