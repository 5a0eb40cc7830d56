"""The CRM properties a workspace reads: from flows, segments and the Jinja AST of its
templates (layouts, partials and macros included), identity fields left out."""

from __future__ import annotations

from connector.workspaces import build_workspace, properties_used, read_folder
from connector.workspaces.usage import IDENTITY, template_properties
from tests.support.paths import ROOT

BODY = (
    "<mjml><mj-body><mj-section><mj-column><mj-text>{% block content %}Hi{% endblock %}"
    "</mj-text></mj-column></mj-section></mj-body></mjml>"
)


def _used(files: dict[str, str]) -> frozenset[str]:
    return properties_used(build_workspace(files))


def test_flow_triggers_conditions_branches_waits_goals_exits_and_updates() -> None:
    flow = """\
name: Plan
trigger:
  type: property.changed
  property: plan
  to: pro
  if: {property: country, eq: CH}
settings:
  goals:
    - {name: won, when: {property: lifecyclestage, eq: customer}}
  exit_when:
    - {property: hs_lead_status, eq: UNQUALIFIED}
steps:
  - id: route
    branch:
      - {if: {all: [{property: seats, gt: 10}, {property: address.city, eq: Bern}]}, goto: mark}
      - {else: wait}
  - {id: wait, wait: {until_date: {property: renewal_date, offset: -7d}}}
  - {id: wait-event, wait: {until_date: {event_property: due_at}}}
  - {id: mark, update_property: {property: drip_stage, value: routed}}
"""
    used = _used({"flows/plan.yaml": flow})
    assert used == {
        "plan", "country", "lifecyclestage", "hs_lead_status", "seats", "address",
        "renewal_date", "drip_stage",
    }


def test_date_trigger_and_segment_rules_but_not_event_properties() -> None:
    files = {
        "flows/birthday.yaml": "name: B\ntrigger: {type: date, property: birthday}\n"
        "steps:\n  - {id: w, wait: 1d}\n",
        "segments/big.yaml": "name: Big\nrule:\n  any:\n    - {property: annualrevenue, gt: 1000}\n"
        "    - {event: order.completed, where: {total: {gt: 100}}}\n"
        "    - {not: {property: email, contains: '@example.com'}}\n",
    }
    assert _used(files) == {"birthday", "annualrevenue"}


def test_merge_tags_in_every_form_and_every_template_file() -> None:
    files = {
        "hi/subject.txt": "Hi {{ contact.firstname | default('there', true) | title }}",
        "hi/body.mjml": '{% extends "_layouts/base.mjml" %}{% block content %}'
        "{{ contact['lastname'] }} {{ contact.get('company', 'you') }}"
        "{% if contact.vip is defined and contact.vip %}*{% endif %}"
        "{{ contact | attr('jobtitle') }} {{ contact.address.city }}"
        "{% for tag in contact.tags %}{{ tag }}{% endfor %}{% endblock %}",
        "hi/body.txt": "{{ contact.phone }} {{ contact.email }} {{ event.firstname }}",
        "_layouts/base.mjml": BODY.replace("Hi", "{{ contact.website }}")
        + '{% include "_partials/footer.mjml" %}',
        "_partials/footer.mjml": "{{ contact.get(\"zip\") }} {{ contact.crm_id }}",
    }
    assert template_properties(files) - IDENTITY == {
        "firstname", "lastname", "company", "vip", "jobtitle", "address", "tags", "phone",
        "website", "zip",
    }


def test_aliases_and_macros_handed_the_contact() -> None:
    files = {
        "_partials/ui.mjml": "{% macro greet(person, style=none) %}{{ person.firstname }}"
        "{{ inner(person) }}{% endmacro %}"
        "{% macro inner(who) %}{{ who['lastname'] }}{% endmacro %}"
        "{% macro badge(label) %}{{ label.jobtitle }}{% endmacro %}"
        "{% macro shadow(contact) %}{{ contact.not_read_either }}{% endmacro %}",
        "hi/subject.txt": '{% from "_partials/ui.mjml" import greet as hello %}'
        "{{ hello(contact) }}{{ badge(event) }}{{ shadow(event) }}",
        "hi/body.mjml": '{% import "_partials/ui.mjml" as ui %}'
        "{% set c = contact %}{% set d = c %}{{ d.city }}"
        "{% with e = contact %}{{ ui.badge(label=e) }}{% endwith %}",
    }
    assert template_properties(files) == {"firstname", "lastname", "city", "jobtitle"}


def test_dynamic_reads_and_broken_files_name_nothing() -> None:
    files = {
        "hi/subject.txt": "{% set key = 'x' %}{{ contact[key] }}{{ contact.keys() | list }}"
        "{{ contact | tojson }}",
        "hi/body.mjml": "{{ contact.firstname ",  # a syntax error: deploy refuses it
    }
    assert template_properties(files) == frozenset()


def test_identity_is_left_out_everywhere() -> None:
    files = {
        "flows/hi.yaml": "name: Hi\ntrigger: {type: property.changed, property: email}\n"
        "steps:\n  - {id: hi, send: hi}\n",
        "templates/hi/subject.txt": "{{ contact.email }} {{ contact.crm_id }}",
        "templates/hi/body.mjml": BODY,
    }
    assert _used(files) == frozenset()


def test_the_repos_own_workspace() -> None:
    used = properties_used(build_workspace(read_folder(ROOT)))
    # anniversary (date trigger), win-back (update step), customers (segment), templates.
    assert {"customer_since", "drip_engagement", "lifecyclestage", "firstname"} <= used
    assert "referral_code" in used  # only a template reads it
    assert not used & IDENTITY
    catalogue = (ROOT / "flows" / "properties.txt").read_text()
    known = {line.split("#")[0].strip() for line in catalogue.splitlines()}
    assert used <= known
