/**
 * `h.vars`: the library's vars steps as the Jenkinsfile's binding holds them, created on first
 * use (PipelineHarness.varFor). A test calling h.vars.pipelinePy acts as the Jenkinsfile.
 */
class VarsView extends LinkedHashMap<String, Object> {
    private final PipelineHarness h

    VarsView(PipelineHarness h) {
        this.h = h
    }

    @Override
    Object get(Object name) {
        assert name.toString() in PipelineHarness.varNames(): "no vars step '${name}'"
        return h.varFor(null, name.toString())
    }

    @Override
    boolean containsKey(Object name) {
        return name.toString() in PipelineHarness.varNames()
    }
}
