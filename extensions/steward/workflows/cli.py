"""`steward workflows lint|push`, registered by `steward.cli` when this package is present.

The commands hand their arguments to `lint.main` and `push.main`, which parse them themselves, so
`python -m steward.workflows.lint` behaves exactly like `steward workflows lint`.
"""

from __future__ import annotations

import click

PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def register(cli: click.Group) -> None:
    @cli.group()
    def workflows() -> None:
        """Lint the n8n workflows in n8n/workflows, or push them into a running n8n."""

    @workflows.command("lint", context_settings=PASS_THROUGH)
    @click.pass_context
    def lint_command(ctx: click.Context) -> None:
        """Check workflows against the pinned n8n and /openapi.json (--help for options)."""
        from steward.workflows.lint import main

        ctx.exit(main(ctx.args))

    @workflows.command("push", context_settings=PASS_THROUGH)
    @click.pass_context
    def push_command(ctx: click.Context) -> None:
        """Upsert and publish workflows through n8n's public API (--url, --api-key; --help for more)."""
        from steward.workflows.push import main

        ctx.exit(main(ctx.args))
