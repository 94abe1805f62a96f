package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/accrue/accrue/sinks/certificate"
)

func init() { commands = append(commands, newCertificateCmd) }

func newCertificateCmd(_ *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certificate",
		Short: "Verify award certificates",
		Long:  `Certificates are issued by 'accrue stage deliver' (docs/nudges.md, "Certificates").`,
	}
	var folder, keyFile, awardID string
	verify := &cobra.Command{
		Use:   "verify CODE",
		Short: "Check a certificate's verification code",
		Long: `Checks a code as printed on a certificate (any case, dashes optional). With
--certificates, the code must be in the folder's index of issued
certificates and must be the key's code of the award the index names; the
certificate is printed as JSON. With --award-id instead, the code is
recomputed from the award id. Either way the key (--certificate-key-file or
ACCRUE_CERTIFICATE_KEY) is needed, so a made-up code or a forged index entry
fails. Exit status 0 for a valid code, 1 for one that is not (unknown or
forged), 2 for a usage problem.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := certificateKey(keyFile)
			if err != nil {
				return err
			}
			if key == nil {
				return usageError{errors.New("give the key: --certificate-key-file or ACCRUE_CERTIFICATE_KEY")}
			}
			if (folder == "") == (awardID == "") {
				return usageError{errors.New("give --certificates (the folder of issued certificates) or --award-id")}
			}
			code, err := certificate.Normalize(args[0])
			if err != nil {
				return usageError{err}
			}
			var store certificate.Store = noStore{}
			if folder != "" {
				if store, err = certificate.NewFolder(folder); err != nil {
					return usageError{err}
				}
			}
			is, err := certificate.NewIssuer(key, store)
			if err != nil {
				return usageError{err}
			}
			if awardID != "" {
				if !is.Check(code, awardID) {
					return fmt.Errorf("%s is not the certificate code of award %s", code, awardID)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "valid: %s is the certificate code of award %s\n", code, awardID)
				return nil
			}
			rec, err := is.Verify(cmd.Context(), code)
			if err != nil {
				return fmt.Errorf("%s: %w", code, err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(rec)
		},
	}
	verify.Flags().StringVar(&folder, "certificates", "", "folder of issued certificates (as given to 'accrue stage deliver')")
	verify.Flags().StringVar(&awardID, "award-id", "", "check the code against this award id instead of the index")
	verify.Flags().StringVar(&keyFile, "certificate-key-file", "", "file holding the certificates' key (default: env ACCRUE_CERTIFICATE_KEY)")
	cmd.AddCommand(verify)
	return cmd
}

// noStore is the store of a check by award id: nothing is read.
type noStore struct{}

func (noStore) Put(_ context.Context, _ string, _ []byte) (string, error) {
	return "", errors.New("certificate: no store")
}
func (noStore) Get(_ context.Context, _ string) ([]byte, error) { return nil, certificate.ErrNotFound }
