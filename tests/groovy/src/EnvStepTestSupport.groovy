/** A step that needs `env`: StepTestSupport's checks, and that a missing environment is named. */
abstract class EnvStepTestSupport extends StepTestSupport {
    EnvStepTestSupport(String step, Map minimal, String command) {
        super(step, minimal, command)
    }

    void testNamesAMissingEnvironment() {
        checkAMissingEnvironmentIsNamed()
    }
}
