/** vars/terraformPlan.groovy: terraform init + plan. */
class TerraformPlanTest extends EnvStepTestSupport {
    TerraformPlanTest() {
        super('terraformPlan', [env: 'staging'], 'terraform plan')
    }

    void testTerraformPlanInitsPlansToAFileAndArchivesTheSummary() {
        responses['terraform plan'] = [plan_file: 'tfplan-staging.bin', summary: [add: ['a', 'b'], change: 1, destroy: [], replace: []]]
        Map r = h.vars.terraformPlan.call(env: 'staging', vars: [desired_count: 2], upgrade: true)
        assert h.commandsRun() == ['terraform init', 'terraform plan']
        assert runOf('terraform init').params == [env: 'staging', upgrade: true]
        assert runOf('terraform plan').params == [env: 'staging', 'plan-file': 'tfplan-staging.bin', var: [desired_count: 2]]
        assert h.archived == ['pipeline-py-reports/terraform-plan-staging.json']
        assert h.log.contains('terraformPlan (staging): 2 to add, 1 to change, 0 to destroy, 0 to replace')
        assert h.vars.terraformPlan.hasChanges(r)
        assert !h.vars.terraformPlan.hasChanges([summary: [add: [], change: 0]])
    }

    void testTerraformPlanOptions() {
        h.vars.terraformPlan.call(env: 'prod', init: false, allowDestroy: true, planFile: 'out/p.bin', report: false)
        assert h.commandsRun() == ['terraform plan']
        assert runOf('terraform plan').params == [env: 'prod', 'plan-file': 'out/p.bin', 'allow-destroy': true]
        assert h.archived == []
    }

    void testADestroyGuardRefusalIsAConfigurationError() {
        responses['terraform plan'] = [code: 2, result: [status: 'error', error: 'bad_input',
            message: 'the plan destroys aws_db_instance.main (protected); use --allow-destroy']]
        Map r = attempt([env: 'prod'])
        assert r.error == 'pipeline-py configuration error: the plan destroys aws_db_instance.main (protected); use --allow-destroy'
    }
}
