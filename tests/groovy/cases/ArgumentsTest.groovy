import io.pipelinepy.Arguments

/** src/io/pipelinepy/Arguments.groovy, called directly. */
class ArgumentsTest {
    static final Map DEFAULTS = [env: null, dryRun: false, tags: [], set: [:], timeout: 0, name: 'x', body: { -> }]

    void testUnknownKeysAreListedWithTheKnownOnes() {
        assert Arguments.problem('step', [bogus: 1, other: 2], DEFAULTS, []) ==
            "step: unknown parameters 'bogus', 'other' (known: body, dryRun, env, name, set, tags, timeout)"
        assert Arguments.problem('step', [bogus: 1], DEFAULTS, []).startsWith("step: unknown parameter 'bogus' (")
    }

    void testRequiredValuesMustBeThereAndNotBlank() {
        assert Arguments.problem('step', [:], DEFAULTS, ['env']) == "step: missing required parameter 'env'"
        assert Arguments.problem('step', [env: '  '], DEFAULTS, ['env']) == "step: missing required parameter 'env'"
        assert Arguments.problem('step', [env: "${'p'}rod"], DEFAULTS, ['env']) == null
        assert Arguments.problem('step', null, DEFAULTS, []) == null
    }

    /** Issue 14: the parameter and the types, never the value (it could be a secret pasted in the wrong place). */
    void testTypeProblemsNameTheParameterAndTheTypesOnly() {
        Map cases = [
            ([dryRun: 's3cr3t'])         : "step: parameter 'dryRun' must be true or false, got String",
            ([timeout: 's3cr3t'])        : "step: parameter 'timeout' must be a number, got String",
            ([name: ['s3cr3t']])         : "step: parameter 'name' must be a string, got ArrayList",
            ([tags: "${'s3cr3t'}"])      : "step: parameter 'tags' must be a list, got String",
            ([set: 'a=s3cr3t'])          : "step: parameter 'set' must be a map, got String",
            ([body: 's3cr3t'])           : "step: parameter 'body' must be a closure, got String",
        ]
        cases.each { Map args, String message ->
            assert Arguments.problem('step', args, DEFAULTS, []) == message
            assert !message.contains('s3cr3t')
        }
        assert Arguments.typeProblem(null, 'anything') == null
        assert Arguments.typeProblem('default', null) == null
        assert Arguments.typeProblem(1, 2.5) == null
    }

    void testMergedCopiesAndOverlays() {
        Map defaults = [a: 1, b: 2]
        Map out = Arguments.merged(defaults, [b: 3])
        assert out == [a: 1, b: 3] && defaults == [a: 1, b: 2]
        assert Arguments.merged(defaults, null) == defaults && !Arguments.merged(defaults, null).is(defaults)
    }

    void testReportNames() {
        assert Arguments.reportName(null, 'd.json', true) == 'd.json'
        assert Arguments.reportName(null, 'd.json', false) == null
        assert Arguments.reportName(true, 'd.json', false) == 'd.json'
        assert Arguments.reportName(false, 'd.json', true) == null
        assert Arguments.reportName("x-${1}.json", 'd.json', true) == 'x-1.json'
    }

    void testCommandProblems() {
        List commands = ['deploy', 'terraform plan']
        Map ok = [command: 'deploy', awsCredentialsType: 'aws', report: null, params: [strategy: 'x']]
        assert Arguments.commandProblem(ok, commands) == null
        assert Arguments.commandProblem(ok + [command: 'rm -rf'], commands) == "pipelinePy: unknown command 'rm -rf' (known: deploy, terraform plan)"
        assert Arguments.commandProblem(ok + [awsCredentialsType: 'x'], commands) ==
            "pipelinePy: awsCredentialsType must be 'aws' or 'usernamePassword', not 'x'"
        assert Arguments.commandProblem(ok + [report: '../x'], commands) == "pipelinePy: report '../x' must be a plain file name"
        assert Arguments.commandProblem(ok + [params: ['--x': 1]], commands) == "pipelinePy: params key '--x' is not an option name"
    }
}
