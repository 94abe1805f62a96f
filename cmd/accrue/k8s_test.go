package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// The manifests of deploy/k8s are checked by decoding each object into the
// Kubernetes API's own Go types, strictly: an unknown or misspelt field, a
// wrong type or a bad quantity fails, as the API server would refuse them.
// (kubeconform needs JSON schemas fetched from the network, which is not
// reachable here; k8s.io/api is served by the Go module proxy.) KEDA's
// ScaledObject and kustomize's Kustomization have no types there: the
// fields used are declared below, strictly too.

type scaledObject struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		ScaleTargetRef struct {
			Name       string `json:"name"`
			Kind       string `json:"kind,omitempty"`
			APIVersion string `json:"apiVersion,omitempty"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Name     string            `json:"name,omitempty"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// kafkaScalerKeys are the metadata keys of KEDA's Kafka scaler that the
// manifests may use.
var kafkaScalerKeys = map[string]bool{"bootstrapServers": true, "bootstrapServersFromEnv": true, "consumerGroup": true,
	"topic": true, "lagThreshold": true, "activationLagThreshold": true, "offsetResetPolicy": true,
	"allowIdleConsumers": true, "scaleToZeroOnInvalidOffset": true, "excludePersistentLag": true, "limitToPartitionsWithLag": true}

type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Namespace       string   `json:"namespace"`
	Resources       []string `json:"resources"`
	Images          []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images"`
}

// manifests are the objects of deploy/k8s, by kind.
type manifests struct {
	deployments  []appsv1.Deployment
	pdbs         []policyv1.PodDisruptionBudget
	jobs         []batchv1.Job
	services     []corev1.Service
	configMaps   []corev1.ConfigMap
	secrets      []corev1.Secret
	hpas         []autoscalingv2.HorizontalPodAutoscaler
	scaled       []scaledObject
	namespaces   []corev1.Namespace
	files        []string
	kustomizeRes []string
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func loadManifests(t *testing.T) manifests {
	t.Helper()
	var m manifests
	dir := filepath.Join(repoRoot, "deploy/k8s")
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	strict := func(path string, i int, doc []byte, into any) {
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			t.Errorf("%s, object %d: %v", path, i+1, err)
		}
	}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		if name == "kustomization.yaml" {
			var k kustomization
			strict(name, 0, b, &k)
			m.kustomizeRes = k.Resources
			continue
		}
		m.files = append(m.files, name)
		for i, doc := range docSep.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Errorf("%s, object %d: %v", name, i+1, err)
				continue
			}
			d := []byte(doc)
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				var o appsv1.Deployment
				strict(name, i, d, &o)
				m.deployments = append(m.deployments, o)
			case "policy/v1 PodDisruptionBudget":
				var o policyv1.PodDisruptionBudget
				strict(name, i, d, &o)
				m.pdbs = append(m.pdbs, o)
			case "batch/v1 Job":
				var o batchv1.Job
				strict(name, i, d, &o)
				m.jobs = append(m.jobs, o)
			case "v1 Service":
				var o corev1.Service
				strict(name, i, d, &o)
				m.services = append(m.services, o)
			case "v1 ConfigMap":
				var o corev1.ConfigMap
				strict(name, i, d, &o)
				m.configMaps = append(m.configMaps, o)
			case "v1 Secret":
				var o corev1.Secret
				strict(name, i, d, &o)
				m.secrets = append(m.secrets, o)
			case "v1 Namespace":
				var o corev1.Namespace
				strict(name, i, d, &o)
				m.namespaces = append(m.namespaces, o)
			case "autoscaling/v2 HorizontalPodAutoscaler":
				var o autoscalingv2.HorizontalPodAutoscaler
				strict(name, i, d, &o)
				m.hpas = append(m.hpas, o)
			case "keda.sh/v1alpha1 ScaledObject":
				var o scaledObject
				strict(name, i, d, &o)
				m.scaled = append(m.scaled, o)
			default:
				t.Errorf("%s, object %d: unexpected %s %s", name, i+1, tm.APIVersion, tm.Kind)
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b bytes.Buffer
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// TestKubernetesManifests decodes every object of deploy/k8s into its API
// type, then checks what the API server cannot: each container's command
// and flags exist in this binary, its ConfigMaps and Secrets exist, every
// stage has probes on the admin port, resources, a disruption budget and
// a lag-based autoscaler on its own consumer group, HTTP ingest has a
// Service, the init job creates the topics and migrates ClickHouse, and
// kustomization.yaml lists every file.
func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	sort.Strings(m.files)
	res := append([]string(nil), m.kustomizeRes...)
	sort.Strings(res)
	if fmt.Sprint(res) != fmt.Sprint(m.files) {
		t.Errorf("kustomization.yaml lists %v, the folder has %v", res, m.files)
	}
	configMaps, secrets := map[string]corev1.ConfigMap{}, map[string]bool{}
	for _, c := range m.configMaps {
		configMaps[c.Name] = c
	}
	for _, s := range m.secrets {
		secrets[s.Name] = true
	}

	checkPod := func(owner string, spec corev1.PodSpec) {
		volumes := map[string]corev1.Volume{}
		for _, v := range spec.Volumes {
			volumes[v.Name] = v
			if v.ConfigMap != nil {
				if _, ok := configMaps[v.ConfigMap.Name]; !ok {
					t.Errorf("%s: volume %s names ConfigMap %s, which no manifest defines", owner, v.Name, v.ConfigMap.Name)
				}
			}
		}
		for _, c := range append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...) {
			where := owner + "/" + c.Name
			if err := checkInvocation(append(append([]string(nil), c.Command...), c.Args...)); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					if _, ok := configMaps[e.ConfigMapRef.Name]; !ok {
						t.Errorf("%s: envFrom ConfigMap %s is not defined", where, e.ConfigMapRef.Name)
					}
				}
				if e.SecretRef != nil && !secrets[e.SecretRef.Name] {
					t.Errorf("%s: envFrom Secret %s is not defined", where, e.SecretRef.Name)
				}
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() ||
				c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s: requests of cpu and memory and a memory limit are required", where)
			}
			if c.SecurityContext == nil || c.SecurityContext.RunAsNonRoot == nil || !*c.SecurityContext.RunAsNonRoot {
				t.Errorf("%s: must run as non-root", where)
			}
			// Files the arguments name must be mounted: from a ConfigMap
			// holding that key, or from the image (deploy/templates).
			mounts := map[string]string{}
			for _, vm := range c.VolumeMounts {
				if _, ok := volumes[vm.Name]; !ok {
					t.Errorf("%s: volume mount %s has no volume", where, vm.Name)
				}
				mounts[vm.MountPath] = vm.Name
			}
			for _, a := range c.Args {
				_, v, ok := strings.Cut(a, "=")
				if !ok {
					v = a
				}
				if !strings.HasPrefix(v, "/etc/accrue/") {
					continue
				}
				dir, file := filepath.Split(v)
				dir = strings.TrimSuffix(dir, "/")
				if src, ok := imageFiles(t)[dir]; ok {
					if _, err := os.Stat(filepath.Join(repoRoot, src, file)); err != nil {
						t.Errorf("%s: %s is not in the image (%s)", where, v, src)
					}
					continue
				}
				vol, ok := volumes[mounts[dir]]
				if !ok || vol.ConfigMap == nil {
					t.Errorf("%s: %s is on no mounted ConfigMap", where, v)
					continue
				}
				if _, ok := configMaps[vol.ConfigMap.Name].Data[file]; !ok {
					t.Errorf("%s: ConfigMap %s has no %s", where, vol.ConfigMap.Name, file)
				}
			}
		}
	}

	components := map[string]bool{}
	for _, d := range m.deployments {
		owner := "Deployment " + d.Name
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: its selector does not match its pods' labels (%v)", owner, err)
		}
		checkPod(owner, d.Spec.Template.Spec)
		c := d.Spec.Template.Spec.Containers[0]
		components[d.Spec.Template.Labels["app.kubernetes.io/component"]] = true
		var pdb *policyv1.PodDisruptionBudget
		for i, p := range m.pdbs {
			if s, err := metav1.LabelSelectorAsSelector(p.Spec.Selector); err == nil && s.Matches(labels.Set(d.Spec.Template.Labels)) {
				pdb = &m.pdbs[i]
			}
		}
		if pdb == nil {
			t.Errorf("%s: no PodDisruptionBudget selects its pods", owner)
		}
		if len(c.Args) > 0 && c.Args[0] == "serve" {
			continue // HTTP ingest: checked below
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
			c.LivenessProbe.HTTPGet.Port.String() != "admin" {
			t.Errorf("%s: liveness probe must be GET /healthz on port admin", owner)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" ||
			c.ReadinessProbe.HTTPGet.Port.String() != "admin" {
			t.Errorf("%s: readiness probe must be GET /readyz on port admin", owner)
		}
		if len(c.Ports) == 0 || c.Ports[0].Name != "admin" || c.Ports[0].ContainerPort != 9464 {
			t.Errorf("%s: port admin must be 9464 (ACCRUE_ADMIN_ADDR in accrue-config)", owner)
		}
		var so *scaledObject
		for i, s := range m.scaled {
			if s.Spec.ScaleTargetRef.Name == d.Name {
				so = &m.scaled[i]
			}
		}
		if so == nil {
			t.Errorf("%s: no ScaledObject scales it", owner)
			continue
		}
		for _, tr := range so.Spec.Triggers {
			if tr.Type != "kafka" {
				t.Errorf("ScaledObject %s: trigger %s, want kafka (lag)", so.Metadata.Name, tr.Type)
			}
			for k := range tr.Metadata {
				if !kafkaScalerKeys[k] {
					t.Errorf("ScaledObject %s: unknown Kafka scaler key %q", so.Metadata.Name, k)
				}
			}
			if b := tr.Metadata["bootstrapServers"]; b != configMaps["accrue-config"].Data["ACCRUE_KAFKA_BROKERS"] {
				t.Errorf("ScaledObject %s: bootstrapServers %q are not ACCRUE_KAFKA_BROKERS of accrue-config", so.Metadata.Name, b)
			}
			// The group is the stage's: accrue-<name>, or the sink's.
			want := "accrue-" + c.Args[1]
			if c.Args[0] == "sink" {
				want = "accrue-sink-" + c.Args[1]
			}
			if g := tr.Metadata["consumerGroup"]; !strings.HasPrefix(g, want) {
				t.Errorf("ScaledObject %s: consumer group %q is not the stage's (%s)", so.Metadata.Name, g, want)
			}
		}
		if so.Spec.MinReplicaCount == nil || d.Spec.Replicas == nil || *so.Spec.MinReplicaCount != *d.Spec.Replicas {
			t.Errorf("ScaledObject %s: minReplicaCount should be the Deployment's replicas", so.Metadata.Name)
		}
	}
	for _, want := range []string{"ingest", "link", "accrue", "leaderboard", "deliver", "contest", "wallet", "sink-clickhouse", "serve"} {
		if !components[want] {
			t.Errorf("no Deployment of %s", want)
		}
	}

	// HTTP ingest: a Service in front of the serve pods, an HPA.
	found := false
	for _, s := range m.services {
		for _, d := range m.deployments {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) &&
				d.Spec.Template.Spec.Containers[0].Args[0] == "serve" {
				found = true
			}
		}
	}
	if !found {
		t.Error("no Service selects the HTTP ingest (accrue serve) pods")
	}
	if len(m.hpas) == 0 || m.hpas[0].Spec.ScaleTargetRef.Name != "accrue-serve" {
		t.Error("HTTP ingest has no HorizontalPodAutoscaler")
	}

	// The init job: topics, then migrations.
	var steps []string
	for _, j := range m.jobs {
		checkPod("Job "+j.Name, j.Spec.Template.Spec)
		for _, c := range append(append([]corev1.Container(nil), j.Spec.Template.Spec.InitContainers...), j.Spec.Template.Spec.Containers...) {
			steps = append(steps, strings.Join(c.Args[:2], " "))
		}
	}
	if fmt.Sprint(steps) != "[topics create clickhouse migrate]" {
		t.Errorf("the init job runs %q, want topics create, then clickhouse migrate", steps)
	}
	// No stage may scale past the partitions the init job creates: the
	// instances beyond them would idle.
	partitions := int32(0)
	for _, j := range m.jobs {
		for _, c := range j.Spec.Template.Spec.InitContainers {
			for i, a := range c.Args {
				if a == "--partitions" && i+1 < len(c.Args) {
					n, err := strconv.Atoi(c.Args[i+1])
					if err != nil {
						t.Fatal(err)
					}
					partitions = int32(n)
				}
			}
		}
	}
	if partitions == 0 {
		t.Error("the init job does not set --partitions")
	}
	for _, so := range m.scaled {
		if so.Spec.MaxReplicaCount == nil || *so.Spec.MaxReplicaCount > partitions {
			t.Errorf("ScaledObject %s: maxReplicaCount must be set and at most the %d partitions", so.Metadata.Name, partitions)
		}
	}

	// The sources ConfigMap carries the repository's examples as they are.
	for key, path := range map[string]string{"gate.yaml": "connectors/examples/gatekeepers/gate.yaml",
		"crm-opportunities.yaml": "connectors/examples/crm-opportunities.yaml"} {
		if got := configMaps["accrue-sources"].Data[key]; got != string(readRepo(t, path)) {
			t.Errorf("ConfigMap accrue-sources %s differs from %s", key, path)
		}
	}
	for k := range configMaps["accrue-config"].Data {
		if err := checkEnv(t, k); err != nil {
			t.Errorf("ConfigMap accrue-config: %v", err)
		}
	}
}
