// A contact's email activity as the connector knows it: the flows the contact is in now
// and the last emails, each sent / opened / clicked. Read from the connector's
// GET /v1/contacts/<hs_object_id>/activity (connector/api/schemas.py, ActivityOut) through
// hubspot.fetch, which HubSpot signs with the app's client secret.
import React, { useEffect, useState } from "react";
import {
  Divider,
  EmptyState,
  ErrorState,
  Flex,
  Heading,
  LoadingSpinner,
  StatusTag,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Tag,
  Text,
  hubspot,
  useExtensionContext,
} from "@hubspot/ui-extensions";

export const LAST_EMAILS = 5;
// Below hubspot.fetch's own 15 s ceiling, so a slow connector shows an error, not a spinner.
const TIMEOUT_MS = 10000;

export function activityUrl(baseUrl, objectId) {
  const base = baseUrl.replace(/\/+$/, "");
  return `${base}/v1/contacts/${encodeURIComponent(String(objectId))}/activity`;
}

/** The flows the contact is active in, and its newest emails with what happened to them. */
export function summarize(activity, limit = LAST_EMAILS) {
  const opened = new Set();
  const clicked = new Set();
  for (const event of activity.engagement) {
    if (event.kind === "open") opened.add(event.message);
    if (event.kind === "click") clicked.add(event.message);
  }
  return {
    activeFlows: activity.flows.filter((f) => f.state === "active").map((f) => f.flow),
    emails: activity.emails.slice(0, limit).map((m) => ({
      id: m.id,
      title: m.subject || m.template,
      status: m.status,
      sentAt: m.sent_at,
      // A click without an open is common (images blocked): the email was read all the same.
      opened: opened.has(m.id) || clicked.has(m.id),
      clicked: clicked.has(m.id),
    })),
  };
}

async function loadActivity(url) {
  const response = await hubspot.fetch(url, { method: "GET", timeout: TIMEOUT_MS });
  if (response.status === 404) {
    return { found: false };
  }
  if (!response.ok) {
    let reason = `the connector answered ${response.status}`;
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") reason += `: ${body.error}`;
    } catch {
      // not JSON: the status says enough
    }
    throw new Error(reason);
  }
  return { found: true, activity: await response.json() };
}

const day = (iso) => (iso ? iso.slice(0, 10) : "");

function EmailRow({ email }) {
  return (
    <TableRow>
      <TableCell>{email.title}</TableCell>
      <TableCell>
        {email.sentAt ? (
          <Text>{day(email.sentAt)}</Text>
        ) : (
          <StatusTag variant={email.status === "failed" ? "danger" : "info"}>{email.status}</StatusTag>
        )}
      </TableCell>
      <TableCell>
        <StatusTag variant={email.opened ? "success" : "default"}>{email.opened ? "Opened" : "Not opened"}</StatusTag>
      </TableCell>
      <TableCell>
        <StatusTag variant={email.clicked ? "success" : "default"}>{email.clicked ? "Clicked" : "Not clicked"}</StatusTag>
      </TableCell>
    </TableRow>
  );
}

export function Activity({ activity }) {
  const { activeFlows, emails } = summarize(activity);
  return (
    <Flex direction="column" gap="sm">
      <Heading>Active flows</Heading>
      {activeFlows.length > 0 ? (
        <Flex direction="row" gap="xs" wrap="wrap">
          {activeFlows.map((flow) => (
            <Tag key={flow}>{flow}</Tag>
          ))}
        </Flex>
      ) : (
        <Text>Not in any flow right now.</Text>
      )}
      <Divider />
      <Heading>Last emails</Heading>
      {emails.length > 0 ? (
        <Table bordered>
          <TableHead>
            <TableRow>
              <TableHeader>Email</TableHeader>
              <TableHeader>Sent</TableHeader>
              <TableHeader>Opened</TableHeader>
              <TableHeader>Clicked</TableHeader>
            </TableRow>
          </TableHead>
          <TableBody>
            {emails.map((email) => (
              <EmailRow key={email.id} email={email} />
            ))}
          </TableBody>
        </Table>
      ) : (
        <Text>No emails sent yet.</Text>
      )}
    </Flex>
  );
}

/** The card: loads the contact's activity once per record and shows it. */
export function ContactActivity({ baseUrl }) {
  const context = useExtensionContext();
  const objectId = context.crm.objectId;
  const [state, setState] = useState({ status: "loading" });
  useEffect(() => {
    let current = true;
    setState({ status: "loading" });
    loadActivity(activityUrl(baseUrl, objectId)).then(
      (result) => current && setState({ status: "done", ...result }),
      (error) => current && setState({ status: "error", reason: String(error?.message ?? error) }),
    );
    return () => {
      current = false;
    };
  }, [baseUrl, objectId]);

  if (state.status === "loading") {
    return <LoadingSpinner label="Loading email activity" layout="centered" />;
  }
  if (state.status === "error") {
    return (
      <ErrorState title="Email activity is unavailable">
        <Text>{state.reason}</Text>
      </ErrorState>
    );
  }
  if (!state.found) {
    return (
      <EmptyState title="No email activity" layout="vertical">
        <Text>The drip connector has no record of this contact yet.</Text>
      </EmptyState>
    );
  }
  return <Activity activity={state.activity} />;
}
