"""ttsign.signing"""
