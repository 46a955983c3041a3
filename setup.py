"""The optional C extension (the content filter's fold and spaced-run scan). Everything
else is configured in pyproject.toml; without a compiler the install still succeeds and
the pure-Python reference is used (``ethics-review bench audit`` reports which)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "review.domain.content._native",
            ["review/domain/content/_native.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
