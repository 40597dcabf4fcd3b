"""Decides requests with pycasbin, the reference Casbin implementation.

    python pycasbin_decide.py MODEL POLICY REQUESTS

REQUESTS has one request per line, its values separated by tabs (an empty value is an empty
field). Prints one line per request: 1 (allowed) or 0 (denied).
"""
import sys

import casbin


def main() -> None:
    model, policy, requests = sys.argv[1:4]
    enforcer = casbin.Enforcer(model, policy)
    out = []
    with open(requests, encoding="utf-8") as f:
        for line in f:
            values = line.rstrip("\n").split("\t")
            out.append("1" if enforcer.enforce(*values) else "0")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
