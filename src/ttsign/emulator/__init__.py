"""ttsign.emulator"""
