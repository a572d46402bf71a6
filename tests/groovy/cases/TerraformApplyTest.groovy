/** vars/terraformApply.groovy: terraform init + apply of the saved plan. */
class TerraformApplyTest extends StepTestSupport {
    static final String DIGEST = 'acct.dkr.ecr.eu-west-1.amazonaws.com/task-api@sha256:' + ('0f' * 32)

    String step() {
        return 'terraformApply'
    }

    Map minimal() {
        return [env: 'staging']
    }

    String command() {
        return 'terraform apply'
    }

    void testPassesTheCommonParametersAndCredentialThrough() {
        checkCommonParametersAndCredentialPassThrough()
    }

    void testRejectsUnknownParametersBeforeTouchingTheAgent() {
        checkUnknownParametersAreRejectedBeforeTheAgentIsTouched()
    }

    void testNamesAMissingEnvironment() {
        checkAMissingEnvironmentIsNamed()
    }

    void testTerraformApplyAppliesTheSavedPlan() {
        responses['terraform apply'] = [applied: true, summary: [add: 1, change: 0, destroy: 0]]
        h.vars.terraformApply.call(env: 'staging')
        assert h.commandsRun() == ['terraform init', 'terraform apply']
        assert runOf('terraform apply').params == [env: 'staging', 'plan-file': 'tfplan-staging.bin']
        assert h.archived == ['pipeline-py-reports/terraform-apply-staging.json']
    }
}
