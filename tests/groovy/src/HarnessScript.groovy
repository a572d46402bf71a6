/**
 * Base class of every script the harness loads (vars/*.groovy, Jenkinsfile): a call that is not
 * a method of the script goes to the harness, which runs a registered fake step or another vars
 * step, and fails the test for anything else, as Jenkins would with "No such DSL method". The
 * vars steps are properties too (`pipelinePy.fail(...)`), as global variables are in Jenkins,
 * each cached in this script's binding (pipeline-groovy-lib's UserDefinedGlobalVariable).
 */
abstract class HarnessScript extends Script {
    def methodMissing(String name, Object args) {
        return harness().dispatch(name, args as Object[], this)
    }

    Object getProperty(String name) {
        try {
            return super.getProperty(name)
        } catch (MissingPropertyException e) {
            if (e.property == name && name in PipelineHarness.varNames()) {
                return harness().varFor(this, name)
            }
            throw e
        }
    }

    private PipelineHarness harness() {
        return (PipelineHarness) getBinding().getVariable('__harness')
    }
}
