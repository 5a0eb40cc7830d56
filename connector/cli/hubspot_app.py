"""`connector hubspot-app build`: the HubSpot app project, ready for `hs project upload`."""

from __future__ import annotations

from pathlib import Path

import click

from connector.cli.context import CliContext, pass_cli


@click.group("hubspot-app")
def hubspot_app() -> None:
    """The HubSpot marketplace app (developer-platform project in hubspot-app/)."""


@hubspot_app.command()
@click.option("--workspace", "workspace_dir", type=click.Path(path_type=Path),
              help="Workspace folder (flows/, segments/, templates/) whose properties to "
                   "subscribe to. Default: FLOWS_DIR, SEGMENTS_DIR, TEMPLATES_DIR.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/hubspot-app"),
              show_default=True, help="Where to write the project (a previous build there "
                                      "is replaced).")
@click.option("--public-url", help="The connector's public URL. Default: PUBLIC_BASE_URL.")
@pass_cli
def build(cli: CliContext, workspace_dir: Path | None, out: Path, public_url: str | None
          ) -> None:
    """Write the app project into OUT: webhooks to <public>/webhooks/hubspot for contact
    creation, deletion, privacy deletion, merge, restore and a change of every property
    the workspace's flows, segments and templates read; OAuth redirect
    <public>/oauth/hubspot/callback; the app card calling <public>/v1/contacts/..."""
    from connector.hubspot_app import AppBuildError, build_project
    from connector.workspaces import (
        WorkspaceError,
        build_workspace,
        read_folder,
        read_workspace,
    )

    settings = cli.settings
    try:
        if workspace_dir is not None:
            files = read_folder(workspace_dir)
        else:
            files = read_workspace(settings.flows_dir, settings.segments_dir,
                                   settings.templates_dir)
        workspace = build_workspace(files)
    except WorkspaceError as exc:
        for line in exc.errors:
            click.echo(line, err=True)
        where = workspace_dir or "the default workspace"
        raise click.ClickException(f"{where}: not a usable workspace; nothing built") from exc
    try:
        built = build_project(out, workspace=workspace,
                              public_url=public_url or settings.base_url)
    except AppBuildError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {built.out} ({built.subscriptions} webhook subscriptions)")
    click.echo(f"property changes subscribed: {', '.join(built.properties)}")
    click.echo(f"upload with: cd {built.out} && hs project upload")
