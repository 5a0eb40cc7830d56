// The card's entry point (activity-card-hsmeta.json): HubSpot runs it in a worker.
import React from "react";
import { hubspot } from "@hubspot/ui-extensions";
import { CONNECTOR_URL } from "./connector.js";
import { ContactActivity } from "./ContactActivity.jsx";

hubspot.extend(() => <ContactActivity baseUrl={CONNECTOR_URL} />);
