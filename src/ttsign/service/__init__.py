"""ttsign.service"""
