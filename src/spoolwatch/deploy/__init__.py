"""Infrastructure as code: the AWS SAM template, Lambda packaging, Kubernetes manifests."""
