/**
 * What every thin step over pipelinePy must do, checked for each step by its own test class
 * (tests/groovy/cases/<Step>Test.groovy extends this, or EnvStepTestSupport when the step needs
 * `env`, and states only what differs: its name, smallest valid argument and command): pass the
 * common parameters and the credential through, reject unknown parameters before touching the agent,
 * and name a missing environment.
 */
abstract class StepTestSupport {
    static final String DIGEST = 'acct.dkr.ecr.eu-west-1.amazonaws.com/task-api@sha256:' + ('0f' * 32)

    PipelineHarness h = new PipelineHarness()
    Map<String, Object> responses = [:]
    private final String stepName
    private final Map minimalArgs
    private final String commandWords

    /** The step's name, the smallest valid argument, and the command it runs. */
    StepTestSupport(String step, Map minimal, String command) {
        stepName = step
        minimalArgs = minimal
        commandWords = command
        h.fakePipelinePy { String cmd, Map p, Map e -> responses.containsKey(cmd) ? responses[cmd] : [status: 'ok'] }
    }

    String step() {
        return stepName
    }

    Map minimal() {
        return new LinkedHashMap(minimalArgs)
    }

    String command() {
        return commandWords
    }

    void testPassesTheCommonParametersAndCredentialThrough() {
        checkCommonParametersAndCredentialPassThrough()
    }

    void testRejectsUnknownParametersBeforeTouchingTheAgent() {
        checkUnknownParametersAreRejectedBeforeTheAgentIsTouched()
    }

    Map runOf(String command) {
        List runs = h.pipelinePyRuns.findAll { it.command == command }
        assert runs.size() == 1: "expected one '${command}' run, got ${h.commandsRun()}"
        return runs[0]
    }

    Map attempt(Map args) {
        return h.attempt { h.vars[step()].call(args) }
    }

    void checkCommonParametersAndCredentialPassThrough() {
        h = new PipelineHarness()
        h.awsCredential('aws-x', 'AKIAX', 'x-secret-value')
        h.fakePipelinePy { cmd, p, e -> [status: 'succeeded'] }
        h.vars[step()].call(minimal() + [env: 'qa', config: 'svc/pipeline.yaml', dryRun: true, set: [timeout: 60],
                                         awsCredentialsId: 'aws-x', pipelinePySource: 'path'])
        Map run = h.pipelinePyRuns.find { it.command == command() }
        assert run: "${step()} did not run ${command()}"
        assert run.params.subMap(['env', 'config', 'dry_run', 'set']) ==
            [env: 'qa', config: 'svc/pipeline.yaml', dry_run: true, set: ['timeout=60']]
        assert run.env.AWS_SECRET_ACCESS_KEY == 'x-secret-value'
        assert h.callsTo('sh').find { it.env.PP_INSTALL }.env.PIPELINE_PY_SOURCE == 'path'
        assert h.secretLeaks() == []
    }

    void checkUnknownParametersAreRejectedBeforeTheAgentIsTouched() {
        h = new PipelineHarness()
        h.fakePipelinePy()
        Map r = h.attempt { h.vars[step()].call(minimal() + [enviroment: 'prod']) }
        assert r.error?.startsWith("${step()}: unknown parameter 'enviroment' (known: ")
        assert !h.callsTo('sh')
    }

    void checkAMissingEnvironmentIsNamed() {
        Map args = minimal().findAll { k, v -> k != 'env' }
        Map r = attempt(args)
        assert r.error == "${step()}: missing required parameter 'env'"
        assert !h.callsTo('sh')
    }

    /** A wrongly typed value is named by parameter and type only: the value could be a secret. */
    void checkAWronglyTypedValueIsNotEchoed(String parameter, Object secretLikeValue, String expected) {
        Map r = attempt(minimal() + [(parameter): secretLikeValue])
        assert r.error == "${step()}: parameter '${parameter}' must be ${expected}, got ${typeName(secretLikeValue)}".toString()
        assert !r.error.contains(secretLikeValue.toString())
    }

    static String typeName(Object v) {
        return v instanceof CharSequence ? 'String' : v.getClass().simpleName
    }
}
