"""ttsign.upstream"""
