"""Settings modules: base (shared), local (quick start), test (pytest), production."""
