"""What the platforms tell qunflow: one receiver module per platform (feishu, slack, telegram, dingtalk, wecom).

A receiver is pure: it verifies a request (signature or secret, freshness, the URL-verification handshake),
decrypts it where the platform encrypts, and maps its payload to `PlatformEvent`s. It touches no store; the
`events` entry point (functions/main.py, through jobs) keeps what it returns in the state store's inbox and
answers. See base.py for the shapes every receiver shares.
"""
