"""python -m app.admin token --name alice --role editor: create a staff token."""

from __future__ import annotations

import argparse
import sys

from app.admin.auth import ROLES, new_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.admin", description="Staff console tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="create a staff token (printed once; only its hash is configured)")
    token.add_argument("--name", required=True, help="who uses it (shown in the audit log)")
    token.add_argument("--role", choices=ROLES, default="editor",
                       help="editor: may change the corpus; viewer: read only")
    args = parser.parse_args(argv)
    try:
        secret, entry = new_token(args.name, args.role)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"令牌 token（只显示这一次，请交给 {args.name} 妥善保管）:\n  {secret}\n")
    print("把下面一项加入 KUNRUYI_ADMIN_TOKENS（多项用英文逗号分隔），然后重启服务:")
    print(f"  {entry}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
