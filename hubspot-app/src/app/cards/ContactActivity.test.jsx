// The card against a fake connector at the worker's edge: hubspot.fetch calls the worker
// global `self.hsFetch` (HubSpot's signed fetch bridge), replaced here per test.
import React from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  EmptyState,
  ErrorState,
  LoadingSpinner,
  StatusTag,
  Table,
  TableCell,
  TableRow,
  Tag,
} from "@hubspot/ui-extensions";
import { createRenderer } from "@hubspot/ui-extensions/testing";
import { ContactActivity } from "./ContactActivity.jsx";

const BASE = "https://connector.example/";
let calls;

function answer(respond) {
  globalThis.self = globalThis;
  globalThis.self.hsFetch = (url, options) => {
    calls.push({ url, options });
    return respond(url, options);
  };
}

const json = (status, body) =>
  Promise.resolve(
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }),
  );

const ACTIVITY = {
  contact: { email: "ann@example.com", crm_id: "123" },
  flows: [
    { flow: "welcome", state: "active", entered_at: "2026-11-30T09:00:00Z", finished_at: null, exit_reason: null },
    { flow: "win-back", state: "exited", entered_at: "2026-10-01T09:00:00Z", finished_at: "2026-10-02T09:00:00Z", exit_reason: "goal" },
  ],
  emails: [
    { id: "m2", flow: "welcome", template: "getting-started", subject: "Getting started", status: "sent", created_at: "2026-12-01T09:00:00Z", sent_at: "2026-12-01T09:00:05Z" },
    { id: "m1", flow: "welcome", template: "welcome", subject: "Welcome, Ann!", status: "sent", created_at: "2026-11-30T09:00:00Z", sent_at: "2026-11-30T09:00:02Z" },
    { id: "m0", flow: null, template: "order-thanks", subject: null, status: "failed", created_at: "2026-11-29T09:00:00Z", sent_at: null },
  ],
  engagement: [
    { kind: "click", message: "m1", template: "welcome", url: "https://shop.example/", occurred_at: "2026-11-30T10:00:00Z" },
    { kind: "open", message: "m1", template: "welcome", url: null, occurred_at: "2026-11-30T09:30:00Z" },
    { kind: "open", message: "m2", template: "getting-started", url: null, occurred_at: "2026-12-01T10:00:00Z" },
  ],
};

// All the text under a node, its text nodes joined.
const textOf = (node) =>
  node.childNodes ? node.childNodes.map(textOf).filter(Boolean).join(" ") : node.text;
const cells = (row) => row.findAll(TableCell).map(textOf);

describe("ContactActivity", () => {
  beforeEach(() => {
    calls = [];
  });
  afterEach(() => {
    delete globalThis.self.hsFetch;
  });

  it("shows a spinner while the connector answers, asking for this record's activity", async () => {
    answer(() => new Promise(() => {}));
    const { render, find, maybeFind } = createRenderer("crm.record.tab");
    render(<ContactActivity baseUrl={BASE} />);
    expect(find(LoadingSpinner).props.label).toEqual("Loading email activity");
    // The request goes out from an effect, which changes nothing on screen: poll for it.
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    expect(find(LoadingSpinner).props.label).toEqual("Loading email activity");
    expect(maybeFind(Table)).toBeNull();
    // The mocked CRM context's record is object 123.
    expect(calls[0].url).toEqual("https://connector.example/v1/contacts/123/activity");
    expect(calls[0].options.method).toEqual("GET");
  });

  it("shows the active flows and the last emails, sent, opened and clicked", async () => {
    answer(() => json(200, ACTIVITY));
    const { render, find, findAll, maybeFind, waitFor } = createRenderer("crm.record.tab");
    render(<ContactActivity baseUrl={BASE} />);
    await waitFor(() => expect(maybeFind(Table)).not.toBeNull());
    expect(maybeFind(LoadingSpinner)).toBeNull();
    expect(findAll(Tag).map((tag) => tag.text)).toEqual(["welcome"]);
    const rows = find(Table).findAll(TableRow).slice(1); // the first is the header
    expect(rows.map(cells)).toEqual([
      ["Getting started", "2026-12-01", "Opened", "Not clicked"],
      ["Welcome, Ann!", "2026-11-30", "Opened", "Clicked"],
      ["order-thanks", "failed", "Not opened", "Not clicked"],
    ]);
    const failed = rows[2].findAll(StatusTag)[0];
    expect(failed.props.variant).toEqual("danger");
  });

  it("says so when the connector does not know the contact", async () => {
    answer(() => json(404, { error: "no contact with crm_id '123'" }));
    const { render, maybeFind, waitFor } = createRenderer("crm.record.tab");
    render(<ContactActivity baseUrl={BASE} />);
    await waitFor(() => expect(maybeFind(EmptyState)).not.toBeNull());
    expect(maybeFind(ErrorState)).toBeNull();
  });

  it("shows the connector's error answer", async () => {
    answer(() => json(401, { error: "bad signature" }));
    const { render, find, maybeFind, waitFor } = createRenderer("crm.record.tab");
    render(<ContactActivity baseUrl={BASE} />);
    await waitFor(() => expect(maybeFind(ErrorState)).not.toBeNull());
    expect(textOf(find(ErrorState))).toContain("the connector answered 401: bad signature");
    expect(maybeFind(Table)).toBeNull();
  });

  it("shows an error when the request itself fails", async () => {
    answer(() => Promise.reject(new Error("timed out")));
    const { render, find, maybeFind, waitFor } = createRenderer("crm.record.tab");
    render(<ContactActivity baseUrl={BASE} />);
    await waitFor(() => expect(maybeFind(ErrorState)).not.toBeNull());
    expect(textOf(find(ErrorState))).toContain("timed out");
  });
});
