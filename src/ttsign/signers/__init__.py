"""ttsign.signers: where signing meets the outside world (environment files now, signer backends next).

`ttsign.signing` stays pure; loading an operator's TOML file or running a worker is I/O and lives here.
"""
