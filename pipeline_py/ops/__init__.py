"""The runbooks of the production guide as functions that give a verdict: ``diagnose`` (the
troubleshooting guide), ``logs``, ``db`` (snapshots, restores, a real connection), ``cost`` and the
terraform state lock.

Like the deploy engine, this package never imports argparse, the CLI context, the commands or the
local stack: the commands map options to a request and call one function here; AWS is reached through
the small adapter classes of :mod:`pipeline_py.ops.adapters` (boto3 clients from the one factory), which
the unit tests replace with fakes.
"""
