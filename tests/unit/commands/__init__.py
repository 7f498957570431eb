"""Unit tests of buildpack.commands: inspect, procfile, status, doctor, init."""
