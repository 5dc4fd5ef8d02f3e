"""Unit tests of the provider's pure logic: `python3 -m unittest` in this folder, no wasm tools.

`wit_world` exists only inside a component (componentize-py generates it at build time); here the
SDK's checked-in copy of the same bindings is put on the path. Its host functions (HTTP,
credentials, ...) raise NotImplementedError outside a component: what talks to the backend is
tested by `ampoule plugin test` (cases.yaml)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "ampoule_sdk", "bindings"))
