"""Tests of the simulators, mirroring bridge/sim/."""
