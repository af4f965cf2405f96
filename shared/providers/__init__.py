"""Clients for the third-party services processors call (Stripe, Resend, SMTP, TTS, S3).

Each turns the provider's answers into the processor errors of
`shared.processors.base`: permanent, retryable or rate-limited.
"""
