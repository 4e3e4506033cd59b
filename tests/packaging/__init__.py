"""Tests of the built distribution: what a plain ``pip install`` of the wheel gets."""
