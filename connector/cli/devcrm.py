"""`connector devcrm`: local CRM emulators in the foreground, to try the connector without a
real portal or org (`connector devcrm hubspot`, `connector devcrm salesforce`)."""

from __future__ import annotations

import re
import time

import click

DEFAULT_SUBSCRIPTIONS = ("contact.creation", "contact.deletion", "contact.privacyDeletion",
                         "contact.merge", "contact.restore", "contact.propertyChange:email",
                         "contact.propertyChange:lifecyclestage",
                         "contact.propertyChange:hs_email_optout")
DEFAULT_OUTBOUND_FIELDS = ("Email", "FirstName", "LastName", "HasOptedOutOfEmail",
                           "LeadSource", "IsEmailBounced")
_RATE = re.compile(r"^(\d+)/(\d+(?:\.\d+)?)(ms|s)?$")


def parse_rate_limit(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, float]:
    """'110/10s' -> (110, 10.0); '5/500ms' -> (5, 0.5)."""
    match = _RATE.match(value.strip())
    if not match or int(match.group(1)) < 1 or float(match.group(2)) <= 0:
        raise click.BadParameter("expected REQUESTS/WINDOW such as 110/10s or 5/500ms")
    window = float(match.group(2)) / (1000 if match.group(3) == "ms" else 1)
    return int(match.group(1)), window


def parse_subscription(value: str) -> tuple[str, str | None]:
    """'contact.creation' -> ('contact.creation', None); 'contact.propertyChange:email' ->
    ('contact.propertyChange', 'email')."""
    kind, _, prop = value.partition(":")
    if not kind.startswith("contact."):
        raise click.BadParameter(f"{value!r}: expected contact.TYPE or "
                                 "contact.propertyChange:NAME", param_hint="--subscribe")
    if kind == "contact.propertyChange" and not prop:
        raise click.BadParameter(f"{value!r}: a propertyChange needs a property name",
                                 param_hint="--subscribe")
    return kind, prop or None


@click.group()
def devcrm() -> None:
    """Local emulators of the CRM APIs (HubSpot, Salesforce) for tests, demos and trying
    things out."""


@devcrm.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8091, show_default=True, type=click.IntRange(0, 65535))
@click.option("--hub-id", default=12345, show_default=True, type=click.IntRange(1))
@click.option("--webhook-url", default=None, help="Where the app's webhooks are POSTed.")
@click.option("--subscribe", "subscriptions", multiple=True, metavar="TYPE[:PROPERTY]",
              help="A webhook subscription (repeatable); default: every contact event and "
                   "propertyChange of email, lifecyclestage, hs_email_optout.")
@click.option("--client-id", default="devcrm-client-id", show_default=True)
@click.option("--client-secret", default="devcrm-client-secret", show_default=True)
@click.option("--private-token", default=None, help="The portal's private-app token.")
@click.option("--token-lifetime", default=1800, show_default=True, type=click.IntRange(1))
@click.option("--rate-limit", default="110/10s", show_default=True, callback=parse_rate_limit,
              help="Requests per rolling window per portal.")
def hubspot(host: str, port: int, hub_id: int, webhook_url: str | None,
            subscriptions: tuple[str, ...], client_id: str, client_secret: str,
            private_token: str | None, token_lifetime: int,
            rate_limit: tuple[int, float]) -> None:
    """A local HubSpot (OAuth, contacts, engagements, webhooks) until Ctrl-C."""
    from devcrm.hubspot import HubSpotEmulator

    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http(s) URL", param_hint="--webhook-url")
    subs = [parse_subscription(s) for s in subscriptions or DEFAULT_SUBSCRIPTIONS]
    emu = HubSpotEmulator(client_id=client_id, client_secret=client_secret, host=host,
                          port=port, rate_limit=rate_limit, token_lifetime=token_lifetime)
    try:
        emu.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    portal = emu.add_portal(hub_id=hub_id, private_token=private_token)
    if webhook_url:
        emu.subscribe(webhook_url, subs)
    click.echo(f"HubSpot emulator on {emu.url} (portal {hub_id}, "
               f"{rate_limit[0]} requests per {rate_limit[1]:g} s)")
    click.echo(f"private app token: {portal.private_token}")
    click.echo(f"OAuth app: client id {client_id}, client secret {client_secret}")
    click.echo(f"webhooks: {webhook_url or 'none (pass --webhook-url)'}")
    click.echo("point the connector at it:")
    click.echo(f"  HUBSPOT_API_BASE={emu.url} HUBSPOT_CLIENT_ID={client_id} "
               f"HUBSPOT_CLIENT_SECRET={client_secret}")
    click.echo(f"control endpoints: {emu.url}/_emulator/... ; Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        emu.stop()


@devcrm.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8092, show_default=True, type=click.IntRange(0, 65535))
@click.option("--org-id", default=None, help="The org's 18-character id (default: a new one).")
@click.option("--outbound-url", default=None,
              help="Where the org's Outbound Messages are POSTed.")
@click.option("--outbound-object", "outbound_objects", multiple=True,
              type=click.Choice(["Contact", "Lead"]),
              help="An object whose changes are sent (repeatable); default: Contact and Lead.")
@click.option("--outbound-field", "outbound_fields", multiple=True, metavar="FIELD",
              help="A field the messages carry (repeatable); default: Email, FirstName, "
                   "LastName, HasOptedOutOfEmail, LeadSource, IsEmailBounced.")
@click.option("--client-id", default="devcrm-consumer-key", show_default=True)
@click.option("--client-secret", default="devcrm-consumer-secret", show_default=True)
@click.option("--api-limit", default=15_000, show_default=True, type=click.IntRange(1),
              help="API requests per org per rolling 24 hours.")
@click.option("--token-lifetime", default=7200, show_default=True, type=click.IntRange(1))
def salesforce(host: str, port: int, org_id: str | None, outbound_url: str | None,
               outbound_objects: tuple[str, ...], outbound_fields: tuple[str, ...],
               client_id: str, client_secret: str, api_limit: int,
               token_lifetime: int) -> None:
    """A local Salesforce (OAuth, SOQL, sObjects, composite, Outbound Messages) until Ctrl-C.

    Another process drives it through JSON under /_emulator: POST /orgs, POST and PATCH
    /orgs/ORG/sobjects/Contact|Lead[/ID] (Outbound Messages fire), POST
    /orgs/ORG/sobjects/Lead/ID/convert, POST /orgs/ORG/outbound, GET /orgs/ORG/timeline/ID
    (the Tasks a rep sees), /orgs/ORG/revoke and /expire-tokens, /faults, /requests,
    /outbound and /drain."""
    from devcrm.salesforce import SalesforceEmulator
    from devcrm.salesforce.objects import FIELDS

    if outbound_url is not None and not outbound_url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http(s) URL", param_hint="--outbound-url")
    if org_id is not None and (len(org_id) not in (15, 18) or not org_id.startswith("00D")):
        raise click.BadParameter("expected a 15 or 18 character id starting 00D",
                                 param_hint="--org-id")
    objects = list(outbound_objects or ("Contact", "Lead"))
    fields = list(outbound_fields or DEFAULT_OUTBOUND_FIELDS)
    for name in fields:
        if any(name not in FIELDS[o] for o in objects):
            raise click.BadParameter(f"{name!r} is not a field of {', '.join(objects)}",
                                     param_hint="--outbound-field")
    emu = SalesforceEmulator(client_id=client_id, client_secret=client_secret, host=host,
                             port=port, api_limit=api_limit, token_lifetime=token_lifetime)
    try:
        emu.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    org = emu.add_org(org_id)
    if outbound_url:
        for sobject in objects:
            emu.outbound(org, outbound_url, object=sobject, fields=fields)
    click.echo(f"Salesforce emulator on {emu.url} (org {org.org_id}, "
               f"{api_limit} API requests a day)")
    click.echo(f"access token: {org.access_token}")
    click.echo(f"connected app: consumer key {client_id}, consumer secret {client_secret}")
    click.echo(f"outbound messages: {outbound_url or 'none (pass --outbound-url)'}")
    click.echo("point the connector at it:")
    click.echo(f"  SALESFORCE_LOGIN_URL={emu.url} SALESFORCE_CLIENT_ID={client_id} "
               f"SALESFORCE_CLIENT_SECRET={client_secret}")
    click.echo(f"  connector accounts connect salesforce --org-id {org.org_id} "
               f"--instance-url {emu.url} --access-token {org.access_token}")
    click.echo(f"control endpoints: {emu.url}/_emulator/... (orgs, records, conversions, "
               "outbound messages, timelines, faults, requests, drain) ; Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        emu.stop()
