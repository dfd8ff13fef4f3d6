/*
 * test_tls.h — TLS material for the unit tests that run a TLS server in-process (the gRPC and
 * HTTP/1.1 upstream client tests): a throw-away self-signed certificate for "localhost".
 */
#ifndef PORTICO_TEST_TLS_H
#define PORTICO_TEST_TLS_H

#include <openssl/evp.h>
#include <openssl/x509v3.h>

/* A self-signed P-256 certificate for "localhost" (CN and subjectAltName), valid for an hour. */
static void make_cert(EVP_PKEY **key_out, X509 **cert_out)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:localhost");
    X509_add_ext(x, san, -1);
    X509_EXTENSION_free(san);
    X509_sign(x, key, EVP_sha256());
    *key_out = key;
    *cert_out = x;
}

#endif
