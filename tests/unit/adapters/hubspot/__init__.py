"""Unit tests of the HubSpot adapter."""
