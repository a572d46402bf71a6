"""Jenkins management for ``pipeline-py jenkins …``: job sync, Jenkinsfile validation, builds.

``client`` talks to Jenkins through python-jenkins (auth, crumbs, item config, build trigger,
queue, build info) and its requests session for what python-jenkins lacks (progressive console);
``sync`` renders and applies the folder/multibranch templates; ``follow`` follows a triggered
build to its result; ``preflight`` holds the automatic pre-deployment gates.
"""
