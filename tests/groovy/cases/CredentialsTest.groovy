import io.pipelinepy.Credentials

/** src/io/pipelinepy/Credentials.groovy, called directly. */
class CredentialsTest {
    static final String NOT_FOUND = 'org.jenkinsci.plugins.credentialsbinding.impl.CredentialNotFoundException'

    void testAMissingIdNamesTheParameter() {
        assert Credentials.problem([awsCredentialsId: 'aws-typo'], NOT_FOUND, "Could not find credentials entry with ID 'aws-typo'") ==
            "credential 'aws-typo' not found (parameter awsCredentialsId): add it in Jenkins or fix the ID"
        assert Credentials.problem([jenkinsCredentialsId: 'j'], 'java.io.IOException', "Could not find credentials entry with ID 'j'") ==
            "credential 'j' not found (parameter jenkinsCredentialsId): add it in Jenkins or fix the ID"
    }

    void testAWrongTypeSaysWhichBindingItCannotSatisfy() {
        String msg = "Credentials 'aws-up' is of type 'usernamePassword' where 'AmazonWebServicesCredentials' was expected"
        assert Credentials.problem([awsCredentialsId: 'aws-up'], NOT_FOUND, msg) ==
            "credential 'aws-up' (parameter awsCredentialsId) cannot be bound to AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: ${msg}"
    }

    void testOtherExceptionsAreNotCredentialProblems() {
        assert Credentials.problem([awsCredentialsId: 'x'], 'java.lang.IllegalStateException', 'boom') == null
        assert Credentials.problem([awsCredentialsId: 'x'], NOT_FOUND, null) == 'credentials could not be bound: '
        assert Credentials.problem([:], NOT_FOUND, "Could not find credentials entry with ID 'other'") ==
            "credentials could not be bound: Could not find credentials entry with ID 'other'"
    }
}
