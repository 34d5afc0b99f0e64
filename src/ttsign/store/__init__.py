"""ttsign.store"""
