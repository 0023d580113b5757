"""Compiled sparse spike ops (see issue 3); nothing is registered yet."""
