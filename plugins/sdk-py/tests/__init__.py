"""Unit tests of the SDK's pure parts, run with plain `python3 -m unittest` in plugins/sdk-py.

`wit_world` exists only inside a component (componentize-py generates it at build time); here the
checked-in copy of the same generated bindings (ampoule_sdk/bindings, guarded by check-bindings)
is put on the path. Its host functions raise NotImplementedError outside a component, so these
tests cover what needs no host: errors, egress rules, URL and header handling, status mapping."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "ampoule_sdk", "bindings"))
