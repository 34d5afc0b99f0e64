"""Build the optional compiled X-Gnarly fast path; ttsign falls back to pure Python when it is missing."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ttsign.signing._xgnarly",
            sources=["src/ttsign/signing/_native/xgnarly.c"],
            optional=True,  # no compiler: install anyway, the pure-Python path takes over
        )
    ]
)
