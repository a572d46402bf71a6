import io.pipelinepy.Params

/** src/io/pipelinepy/Params.groovy, called directly: the params file and --set encoding. */
class ParamsTest {
    void testTheParamsFileCarriesTheGlobalsAndTheCommandsOptions() {
        String v = 'v1'
        Map out = Params.forCommand([env: "pr${'od'}", config: 'p.yaml', dryRun: true, set: [canary: [steps: [10, 100]]],
                                     params: [tag: ["a-${v}"], image: null, 'plan-file': 'x.bin', force: true]])
        assert out == [env: 'prod', config: 'p.yaml', dry_run: true, set: ['canary.steps=[10, 100]'], tag: ['a-v1'],
                       'plan-file': 'x.bin', force: true]
        assert out.env instanceof String && out.tag[0] instanceof String
        assert Params.forCommand([params: [:]]) == [:]
    }

    void testSetEntriesAreDottedPathsWithJsonValues() {
        assert Params.setEntries([a: [b: 1, c: 'x', d: null], e: true, f: [1, 'two', [3]], g: [h: [i: 2.5]]]) ==
            ['a.b=1', 'a.c="x"', 'e=true', 'f=[1, "two", [3]]', 'g.h.i=2.5']
        assert Params.setEntries(null) == []
        assert Params.json(null) == 'null'
        assert Params.json([k: 'v']) == '{"k":"v"}'
        assert Params.json('quote " and \\ and \n') == '"quote \\" and \\\\ and \\n"'
    }

    /** Written once (issue B): pipelinePy and ecsDeploy both use it. */
    void testCamelCaseKeysBecomeSnakeCase() {
        assert Params.camelToSnake('maxP99Ms') == 'max_p99_ms'
        assert Params.camelToSnake('bakeSeconds') == 'bake_seconds'
        assert Params.camelToSnake('already_snake') == 'already_snake'
        assert Params.snakeKeys([maxErrorRate: 0.1, nested: [minRequests: 5]]) == [max_error_rate: 0.1, nested: [min_requests: 5]]
    }

    void testDurationsInPipelinePysSyntax() {
        assert Params.seconds(600) == 600L
        assert Params.seconds(600.2) == 601L
        assert Params.seconds('90s') == 90L
        assert Params.seconds('15m') == 900L
        assert Params.seconds('1.5h') == 5400L
        assert Params.seconds('250ms') == 1L
        assert Params.seconds(' 42 ') == 42L
        assert Params.seconds('soon') == null
        assert Params.seconds(null) == null
    }

    void testTheLastLineOfAnOutput() {
        assert Params.lastLine('log\n\n/opt/bin/pipeline-py \n\n') == '/opt/bin/pipeline-py'
        assert Params.lastLine('') == null
        assert Params.lastLine(null) == null
    }
}
