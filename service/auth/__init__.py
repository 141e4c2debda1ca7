"""Sign-in (WeChat mini-program, staff password), tokens, and who may do what."""
