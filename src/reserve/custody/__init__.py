"""Custody: key holders and their sites, multisig vaults, the transfer policy, PSBT checks.

Pure domain: it builds and checks descriptors and PSBTs with embit and coincurve, and never
touches a database, a wallet file or a network. The system never holds a private key; only the
offline signer reads one, from a key holder's own file.
"""
