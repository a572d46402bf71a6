package io.pipelinepy

import com.cloudbees.groovy.cps.NonCPS

/**
 * Credential problems in words that name the step parameter. Only the credential ID and the
 * binding's own message appear (Jenkins' messages carry IDs and types, never a secret).
 */
class Credentials implements Serializable {

    private static final long serialVersionUID = 1L

    /** The parameters that take a credential ID, and the variables each is bound to. */
    static final Map PARAMETERS = [
        awsCredentialsId    : 'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
        jenkinsCredentialsId: 'JENKINS_USER/JENKINS_API_TOKEN',
    ]

    /**
     * Recognises Jenkins' CredentialNotFoundException (a missing ID, or a credential of a type the
     * binding cannot use) from its class name and message; null for any other exception.
     */
    @NonCPS
    static String problem(Map opts, String exceptionClass, String message) {
        String text = message ?: ''
        boolean credentialError = exceptionClass.endsWith('CredentialNotFoundException') ||
            text.contains('Could not find credentials entry')
        if (!credentialError) {
            return null
        }
        for (Object param : PARAMETERS.keySet()) {
            Object id = opts[param]
            if (id && text.contains("'${id}'".toString())) {
                if (text.contains('Could not find')) {
                    return ("credential '${id}' not found (parameter ${param}): " +
                        'add it in Jenkins or fix the ID').toString()
                }
                return ("credential '${id}' (parameter ${param}) cannot be bound to " +
                    "${PARAMETERS[param]}: ${text}").toString()
            }
        }
        return "credentials could not be bound: ${text}".toString()
    }

}
