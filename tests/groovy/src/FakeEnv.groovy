/**
 * The `env` global: reads see the build's variables overlaid by every enclosing withEnv and
 * withCredentials (as in Jenkins), writes go to the build's variables.
 */
class FakeEnv {
    private final PipelineHarness h

    FakeEnv(PipelineHarness h) {
        this.h = h
    }

    Object getProperty(String name) {
        return h.effectiveEnv()[name]
    }

    void setProperty(String name, Object value) {
        h.buildEnv[name] = value == null ? null : value.toString()
    }

    Map getEnvironment() {
        return h.effectiveEnv()
    }
}
