"""Offline preview of the program: the SDK's mock engine standing in for Pulumi, AWS and Synapse."""

from .engine import ProgramRun, RegisteredResource, run_program

__all__ = ["ProgramRun", "RegisteredResource", "run_program"]
