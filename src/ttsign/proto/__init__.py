"""ttsign.proto"""
