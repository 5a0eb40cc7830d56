// The connector's public URL. `connector hubspot-app build` writes the real one (from
// --public-url or PUBLIC_BASE_URL) into the built copy; this is the local default.
export const CONNECTOR_URL = "http://localhost:5000";
