/** vars/terraformApply.groovy: terraform init + apply of the saved plan. */
class TerraformApplyTest extends EnvStepTestSupport {
    TerraformApplyTest() {
        super('terraformApply', [env: 'staging'], 'terraform apply')
    }

    void testTerraformApplyAppliesTheSavedPlan() {
        responses['terraform apply'] = [applied: true, summary: [add: 1, change: 0, destroy: 0]]
        h.vars.terraformApply.call(env: 'staging')
        assert h.commandsRun() == ['terraform init', 'terraform apply']
        assert runOf('terraform apply').params == [env: 'staging', 'plan-file': 'tfplan-staging.bin']
        assert h.archived == ['pipeline-py-reports/terraform-apply-staging.json']
    }
}
